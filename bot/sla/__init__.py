"""SLA clocks: business-time deadlines kept in the database, swept from state."""
