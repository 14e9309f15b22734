"""
How the conformance runner reads its arguments and wstest's report.
"""

from __future__ import annotations

from benchmarks.conformance.__main__ import case_patterns, failures, verdicts


def test_case_patterns() -> None:
    assert case_patterns("1-3,10") == ["1.*", "2.*", "3.*", "10.*"]
    assert case_patterns("6.4.3, 7") == ["6.4.3", "7.*"]


def test_a_case_counts_once_with_its_worse_verdict() -> None:
    index = {
        "uws": {
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
            "6.4.3": {"behavior": "NON-STRICT", "behaviorClose": "OK"},
            "7.1.1": {"behavior": "OK", "behaviorClose": "FAILED"},
            "7.1.6": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL"},
        },
        "autobahn": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK"}},
    }
    counts = verdicts(index)
    assert counts["uws"] == {"OK": 1, "NON-STRICT": 1, "FAILED": 1, "INFORMATIONAL": 1}
    assert counts["autobahn"] == {"OK": 1}
    assert failures(index) == ["uws 6.4.3 NON-STRICT/OK", "uws 7.1.1 OK/FAILED"]
