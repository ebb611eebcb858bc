"""`dunning report` and the ops console's charts: what the portfolio recovered, from which step,
channel and template variant, and how promises, plans, opt-outs and disputes went.

Pure over `AccountFacts` (`reporting/facts.py`), which come from the audit store (live) or
from a `dunning simulate --format json` document (a simulated portfolio).
"""
