"""The detection engine: rules, correlations, scenarios, context and risk (R15, R16)."""

from kizuki.detect.engine import Detector, Engine, EngineSettings, RuleAlerts

__all__ = ["Detector", "Engine", "EngineSettings", "RuleAlerts"]
