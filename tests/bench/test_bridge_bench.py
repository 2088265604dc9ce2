"""The native -> asyncio delivery benchmark on tiny settings: every scenario delivers every
item, and single paced streams are compared with the bare reader wake-up floor."""
from pyllm.bench import bridge


def test_every_scenario_delivers_and_reports():
    results = bridge.run(n_items=200, repeats=1)
    assert [(r["mode"], r["tasks"]) for r in results] == [("burst", 1), ("burst", 8), ("paced", 1), ("paced", 8)]
    for r in results:
        assert r["ours_us"] > 0 and r["executor_hop_us"] > 0
        assert (r["wakeup_floor_us"] is not None) == (r["mode"] == "paced" and r["tasks"] == 1)
