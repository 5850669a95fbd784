import importlib
import sys
import time

from bench import Figure

SUITES = ["gas", "oracle", "relay", "viewer", "demo", "collective_check", "collective_allocate", "collective_bill",
          "collective_commit", "governance", "collective_forecast", "poa"]


def main(names: list[str]) -> int:
    rows: list[tuple[str, Figure]] = []
    for name in names or SUITES:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"bench {name}: not present, skipped", file=sys.stderr)
                continue
            raise
        started = time.monotonic()
        figures = module.run()
        print(f"bench {name}: {len(figures)} figures in {time.monotonic() - started:.1f} s", file=sys.stderr)
        rows += [(name, f) for f in figures]
    width = max((len(f.name) for _, f in rows), default=10)
    print(f"\n{'suite':<8} {'figure':<{width}} {'value':>14} {'unit':<10} {'target':<10} met")
    for suite, f in rows:
        met = {True: "yes", False: "NO", None: ""}[f.met]
        print(f"{suite:<8} {f.name:<{width}} {f.value:>14,.2f} {f.unit:<10} {f.target:<10} {met} {f.note}")
    return 1 if any(f.met is False for _, f in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
