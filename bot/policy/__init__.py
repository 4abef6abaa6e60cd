"""The escalation policy: its types (bot.policy.model) and how a YAML file
becomes one (bot.policy.parsing, bot.policy.fields)."""
from bot.policy.model import (LADDER, REQUIRED_LEVELS, SEVERITIES, WEEKDAYS, DEFAULT_ROOT_CAUSES, BusinessHours, OnCall,
                              Level, Policy, PolicyError, PriorityWeights, ReviewSchedule, Severity)
from bot.policy.parsing import load_policy, parse_policy

__all__ = ["LADDER", "REQUIRED_LEVELS", "SEVERITIES", "WEEKDAYS", "DEFAULT_ROOT_CAUSES", "BusinessHours", "Level", "OnCall",
           "Policy", "PolicyError", "PriorityWeights", "ReviewSchedule", "Severity", "load_policy", "parse_policy"]
