"""Run issue 7's bad-input battery and print how many cases are rejected cleanly.

    python benchmarks/bad_inputs.py [--json benchmarks/results/bad_inputs.json]

The cases are those of tests/bad_input_battery.py (the same ones
tests/test_validation.py runs one by one).  A case is rejected cleanly when it
raises the expected exception with a message that names the problem (and the
expected shape where a shape is at fault) and leaves the estimator as it was.
Prints a Markdown summary per category, then every case with its message.
"""

import argparse
import collections
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.bad_input_battery import CASES, run_case  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the outcomes to this JSON file")
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcomes = [run_case(case) for case in CASES]

    per_category = collections.defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        per_category[outcome.case.category][0] += 1
        per_category[outcome.case.category][1] += outcome.clean
    clean = sum(o.clean for o in outcomes)
    print(f"{len(outcomes)} cases, {clean} rejected cleanly\n")
    print("| category | cases | rejected cleanly |\n|---|---|---|")
    for category, (n, ok) in per_category.items():
        print(f"| {category} | {n} | {ok} |")
    print(f"| **all** | **{len(outcomes)}** | **{clean}** |\n")
    print("| estimator.method | case | raised | clean | message (first 90 characters) |\n|---|---|---|---|---|")
    for o in outcomes:
        message = o.message.splitlines()[0][:90].replace("|", "\\|") if o.message else ""
        status = "yes" if o.clean else f"NO: {o.problem}"
        print(f"| {o.case.estimator}.{o.case.method} | {o.case.case} | {o.raised} | {status} | {message} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(
                {
                    "n_cases": len(outcomes),
                    "n_clean": clean,
                    "cases": [
                        {"estimator": o.case.estimator, "method": o.case.method, "case": o.case.case,
                         "category": o.case.category, "raised": o.raised, "clean": o.clean,
                         "problem": o.problem, "message": o.message}
                        for o in outcomes
                    ],
                },
                handle,
                indent=1,
            )
    return 0 if clean == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
