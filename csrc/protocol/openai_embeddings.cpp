#include "protocol/openai_embeddings.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "protocol/json_string.h"

namespace pyllm::protocol {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void append_base64(std::string & out, const unsigned char * data, size_t n) {
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        const uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
        out += kBase64[v >> 18];
        out += kBase64[(v >> 12) & 63];
        out += kBase64[(v >> 6) & 63];
        out += kBase64[v & 63];
    }
    if (i < n) {
        const uint32_t v = (uint32_t(data[i]) << 16) | (i + 1 < n ? uint32_t(data[i + 1]) << 8 : 0);
        out += kBase64[v >> 18];
        out += kBase64[(v >> 12) & 63];
        out += i + 1 < n ? kBase64[(v >> 6) & 63] : '=';
        out += '=';
    }
}

void append_floats(std::string & out, const float * row, int64_t n) {
    out += '[';
    char buf[32];
    for (int64_t j = 0; j < n; ++j) {
        if (j) out += ',';
        if (!std::isfinite(row[j])) {
            out += "null";
            continue;
        }
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, row[j]);
        out.append(buf, end);
    }
    out += ']';
}

bool little_endian() {
    const uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

}  // namespace

std::string openai_embeddings_body(const float * vectors, int64_t n_rows, int64_t n_dims, bool base64,
                                   std::string_view model, int64_t prompt_tokens) {
    std::string out;
    out.reserve(static_cast<size_t>(n_rows) * (64 + static_cast<size_t>(n_dims) * (base64 ? 6 : 13)));
    out += "{\"object\":\"list\",\"data\":[";
    std::string le_bytes;
    for (int64_t i = 0; i < n_rows; ++i) {
        const float * row = vectors + i * n_dims;
        if (i) out += ',';
        out += "{\"object\":\"embedding\",\"index\":";
        out += std::to_string(i);
        out += ",\"embedding\":";
        if (base64) {
            le_bytes.assign(reinterpret_cast<const char *>(row), static_cast<size_t>(n_dims) * sizeof(float));
            if (!little_endian()) {
                for (size_t k = 0; k < le_bytes.size(); k += 4) {
                    std::swap(le_bytes[k], le_bytes[k + 3]);
                    std::swap(le_bytes[k + 1], le_bytes[k + 2]);
                }
            }
            out += '"';
            append_base64(out, reinterpret_cast<const unsigned char *>(le_bytes.data()), le_bytes.size());
            out += '"';
        } else {
            append_floats(out, row, n_dims);
        }
        out += '}';
    }
    out += "],\"model\":";
    append_json_string(out, model);
    out += ",\"usage\":{\"prompt_tokens\":";
    out += std::to_string(prompt_tokens);
    out += ",\"total_tokens\":";
    out += std::to_string(prompt_tokens);
    out += "}}";
    return out;
}

}  // namespace pyllm::protocol
