"""Steps for settings at and beyond the edge of what the bot allows: the operator starts the bot
(``krakenbot check``) with one setting given, and reads what it printed."""
from __future__ import annotations

from behave import then, when
from hamcrest import assert_that, contains_string, empty, equal_to, has_key, is_

# The settings as the feature names them -> the name the operator writes in the environment.
SETTINGS = {
    "the dead man's switch, seconds": "DEAD_MANS_SWITCH_SECONDS",
    "the bot's own tag in its order references": "BOT_ID",
    "the wait for each answer, seconds": "KRAKEN_READ_TIMEOUT",
    "the bound on a whole request, seconds": "KRAKEN_TOTAL_TIMEOUT",
}


@when('the operator starts the bot with "{name}" set to {value}')
def step_start_with_setting(context, name, value):
    world = context.world
    assert_that(SETTINGS, has_key(name), f"'{name}' should be a setting the specification knows")
    code, stderr = world.start_from_command_line(**{SETTINGS[name]: value})
    world.notes.update(exit_code=code, stderr=stderr, setting=SETTINGS[name])


@when("the operator starts the bot with the market stream on, against an exchange that is not Kraken, "
      "without telling it where that exchange's stream is")
def step_start_stream_without_address(context):
    world = context.world
    for name in ("KRAKEN_WS_URL", "KRAKEN_WS_AUTH_URL"):
        world.env.pop(name, None)
    code, stderr = world.start_from_command_line(MARKET_STREAM="on")  # API_DOMAIN: the simulator's
    world.notes.update(exit_code=code, stderr=stderr, setting="KRAKEN_WS_URL")


@then("the bot refuses to start, naming the setting: {rule}")
def step_refused_naming_setting(context, rule):
    from krakenbot.cli import EXIT_CONFIG

    world = context.world
    notes = world.notes
    assert_that(notes["exit_code"], equal_to(EXIT_CONFIG), f"the bot should have refused to start: {notes['stderr']}")
    line = notes["stderr"].strip()
    assert_that("\n" in line, is_(False), f"the error should be one line: {line}")
    assert_that(line, contains_string(f"{notes['setting']}: "), "the error should name the setting")
    assert_that(line, contains_string(rule), "the error should say what the setting allows")
    sent = [r.endpoint for r in world.exchange_calls() if r.seq >= notes["when_mark"]]
    assert_that(sent, empty(), "a bot that refuses its settings should not have contacted the exchange")
