"""Helpers shared by the Behave specification (environment.py, steps/) and its runner.

Kept out of steps/ because behave exec's every module there as a step module.
"""
