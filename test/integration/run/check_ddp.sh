# check_ddp RUN_DIR STEPS: exactly one record per training rank (launchers touch no GPU and
# mark no step, so they have none), ranks {0,1}, exited, STEPS marked steps each.
check_ddp() {
  local run=$1 steps=$2
  validate_meta "$run/run_meta.json"
  [ "$(ls "$run/ranks" | wc -l)" = 2 ] || fail "expected 2 records, got: $(ls "$run/ranks")"
  for f in "$run"/ranks/*.argus; do "$RECORD_DUMP" "$f"; done >"$run/dump.jsonl"
  "$PY" - "$run/dump.jsonl" "$steps" "$run/run_meta.json" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
steps = int(sys.argv[2])
meta = json.load(open(sys.argv[3]))
assert sorted(r["rank"] for r in recs) == [0, 1], [r["rank"] for r in recs]
for r in recs:
    assert r["state"] == "exited", r["state"]
    assert r["world_size"] == 2, r
    assert r["steps_source"] == "marker", r["steps_source"]
    # One step per optimizer.step(): each closed explicitly; the step opened after the last
    # optimizer step (teardown) is closed implicitly at exit (flags & 1) and is not counted.
    explicit = [s for s in r["steps"] if s["end"] and not (s["flags"] & 1)]
    assert len(explicit) == steps, (r["rank"], [(s["ordinal"], s["flags"]) for s in r["steps"]])
    assert all(s["end"] >= s["start"] for s in explicit)
sw = meta["hosts"][0]["software"]
assert sw["pytorch"].startswith("1.13"), sw
assert sorted(p["state"] for p in meta["processes"]) == ["exited", "exited"], meta["processes"]
print("ranks ok:", [(r["rank"], len(r["steps"])) for r in recs])
PYEOF
}
