"""Reports (stage "use"): read-only views over stored events, shaped by the tracking plan.

``conversions``: counts and values of conversions under the plan's counting rules, rolled up
through the category hierarchy. See docs/tracking-plan.md ("Counting and roll-ups").
"""
