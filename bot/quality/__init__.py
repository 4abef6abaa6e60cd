"""The quality loop: what the customer hears through to the end (progress updates, the
resolution confirmation), their satisfaction score, and what is learnt from it: metrics,
prevention analysis, reports (design.md §7)."""
