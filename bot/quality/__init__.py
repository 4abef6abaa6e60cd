"""The quality loop: metrics, prevention analysis, reports, CSAT (design.md §7)."""
