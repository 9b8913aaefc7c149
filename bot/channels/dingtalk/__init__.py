"""DingTalk (钉钉) enterprise-internal app with the robot capability.

    settings.py        the [dingtalk] section and its checks
    errors.py          what the API answers and which failures are retried
    client.py          asyncio API client (aiohttp) for api.dingtalk.com and oapi.dingtalk.com,
                       the access token shared by processes (bot/channels/tokens.py)
    frames.py          Stream-mode frames: parsing, acks, the topics
    stream.py          the Stream-mode connection: register, websocket, ping, reconnect with
                       backoff and jitter, watchdog for a silent socket
    messages.py        robot messages and card callbacks → neutral `Incoming` events
    receiver.py        frames and HTTP callbacks → stored events (de-duplicated) → turns
    signing.py         the HTTP-mode robot callback's timestamp + sign check
    callback.py        POST /dingtalk/callback (mode = "http")
    cards.py           approval cards: the template's variables, or markdown with text commands
    channel.py         DingtalkChannel.send: robot oToMessages/batchSend, cards, card updates
    directory_sync.py  departments, managers and members from the contacts API
    setup.py           the plugin for the registry
"""

NAME = "dingtalk"
