"""Tests of Kizuki's own detection rules (rules/), per ATT&CK range."""
