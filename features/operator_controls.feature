@operations @allure.label.epic:Operations
Feature: The operator's controls cannot miss
  An operator stops the bot from wherever they are, with nothing but the bot's home; the bot
  never sends its key in clear over the network; and a stop does not wait out a pause the
  bot is taking. Against the simulated exchange no real money moves.

  @safety @blocker @allure.label.story:kill-switch
  Scenario: The kill switch reaches a running bot started from another directory
    The operator's kill names only the bot's home: not the directory the bot was started
    from, not its settings, not its key.

    Given a bot is running in canary mode, started from its own working directory
    And it is placing orders on the exchange
    When the operator pulls the kill switch from another directory, naming only the bot's home
    Then the operator is told the running bot saw the halt
    And no order reaches the exchange while the bot runs on after the kill

  @safety @blocker @allure.label.story:cleartext
  Scenario Outline: The bot refuses an exchange address that would carry its key in clear
    Plain http is allowed to this machine only (the simulator); anywhere else the key and
    every signature would cross the network unencrypted.

    Given the exchange address is set to <address>
    When the operator starts the bot and it checks its connection
    Then the bot refuses to start with a configuration error about the exchange address
    And the bot attempted no connection

    Examples: Exchange addresses off this machine, in clear
      | address                  |
      | http://192.0.2.10        |
      | http://api.kraken.com    |
      | http://127.0.0.1.nip.io  |

  @safety @critical @allure.label.story:cleartext
  Scenario Outline: The bot refuses a notification address that would carry its token in clear or lead nowhere
    The address the bot posts its alerts to usually holds a token. Plain http is allowed to this
    machine only; an address with no host would lose every alert. Either stops the bot at start.

    Given the notification address is set to <address>
    When the operator starts the bot and it checks its connection
    Then the bot refuses to start with a configuration error about the notification address, not showing its token
    And the bot attempted no connection

    Examples: Notification addresses the bot cannot post to safely
      | address                                      |
      | http://192.0.2.10/hooks/T0KEN-7f3a9c         |
      | http://hooks.example.com/hooks/T0KEN-7f3a9c  |
      | https:///hooks/T0KEN-7f3a9c                  |

  @safety @critical @allure.label.story:secrets
  Scenario Outline: A secret that is not one Kraken issues stops the bot in one line, before it connects
    Kraken issues the secret as base64 text; anything else (a typo, a character pasted from a
    document) is refused plainly at start, without showing the value and with nothing sent.

    Given the bot's secret is set to <secret>
    When the operator starts the bot and it checks its connection
    Then the bot refuses to start with one line about the secret, which it does not show
    And the bot attempted no connection

    Examples: Secrets Kraken never issues
      | secret                                    |
      | text with characters base64 does not use  |
      | a character pasted from a word processor  |

  @safety @blocker @allure.label.story:secrets
  Scenario Outline: Live trading refuses a settings file holding the key that other users can read
    Given the operator keeps the key in a settings file for live trading that <readers> can read
    When the operator starts the bot from the command line with that file
    Then <outcome>

    Examples:
      | readers                         | outcome                                                               |
      | only the owner                  | the bot starts and checks its connection                              |
      | the owner's group               | the bot refuses to start, telling the operator to run chmod 600 on it |
      | every user                      | the bot refuses to start, telling the operator to run chmod 600 on it |
      | users outside the owner's group | the bot refuses to start, telling the operator to run chmod 600 on it |

  @safety @blocker @fault-injection @allure.label.story:stop
  Scenario: A stop ends a rate-limit pause at once, with no order left in doubt
    After a rate-limit refusal the bot pauses about 45 seconds before trying again;
    Ctrl-C or SIGTERM must not wait that out.

    Given the bot's strategy buys XBT every minute
    And the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the exchange refuses the bot's balance check before an order for exceeding the rate limit
    And the operator stops the bot as that refusal comes back
    When the bot runs its trading loop
    Then the bot has stopped without waiting out the pause
    And the exchange received no order
    And the bot holds no order of unknown outcome

  @safety @blocker @allure.label.story:kill-switch
  Scenario Outline: A kill file the bot cannot read still stops every new order, naming the file
    The kill file's presence is the stop; its content is only the reason, and a kill file the bot
    cannot read as text (a folder made by hand, a binary file) stops the bot all the same.

    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the operator has left <something unreadable> where the kill file goes
    When the bot asks to buy 0.01 XBT at market
    Then the order is refused for reason HALTED
    And the refusal names the kill file, in one line
    And the exchange received no order for it

    Examples: What the operator left
      | something unreadable                |
      | a folder                            |
      | a file of bytes that are not text   |

  @safety @blocker @allure.label.story:kill-switch
  Scenario: A kill file made by hand while the bot runs cancels its open orders at the next cycle
    The kill file stops every new order at once; the bot's next cycle then does what the kill
    command does: it cancels every open order and writes the halt down, naming the file, so that
    the halt still stands after the file is removed, until the operator resumes.

    Given the bot is connected to the exchange in live mode
    And the price of XBT/EUR is 60,000 EUR
    And the bot has a limit buy of 0.01 XBT resting at 59,000 EUR
    And the operator has left an empty kill switch file, made by hand
    When the bot runs one trading cycle
    Then no order is open on the exchange
    And once the operator removes the kill file, a new order is still refused for reason HALTED
    And the bot's status still names the kill file as the reason for the halt

  @safety @blocker @allure.label.story:kill-switch
  Scenario: A folder made by hand where the kill file goes halts a running bot, which goes on showing itself alive
    The operator who cannot run the kill command makes the kill file by hand, even as a folder:
    the running bot halts at its next cycle, and its running record still tells the operator's
    status command that it is alive and cycling, so the halt is not mistaken for a hung bot.

    Given a bot is running in canary mode, started from its own working directory
    And it has run a trading cycle
    When the operator makes a folder named as the kill file in the bot's home
    Then the running bot writes down that the kill file halted it
    And the running bot's record shows a heartbeat after the halt
