"""Escalator: a Slack-native escalation desk for customer support."""
