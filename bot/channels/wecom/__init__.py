"""WeCom (企业微信) self-built app channel.

    crypto.py          callback signature and AES-256-CBC envelope (WeCom's 32-byte padding)
    messages.py        callback XML → WecomMessage → Incoming, with the de-duplication key
    callback.py        GET/POST /wecom/callback: verify, decrypt, parse, store, answer at once
                       (storing and the turns after the answer: bot/intake.py, every channel)
    client.py          asyncio API client (aiohttp): one token refresh and retry, no blocking
    errors.py          WeCom error codes: which are retried, which are final
    cards.py           approval cards as template_card button_interaction within WeCom's limits
    codes.py           response codes of a card (from message/send and from taps), each used once
    texts.py           long texts split at WeCom's 2048-byte limit
    limits.py          WeCom's per-member message limits, counted in WeCom messages
    channel.py         WecomChannel.send: text, card, card update, flowchart image
    directory_sync.py  departments, leaders, members and role tags from the contacts API
    menu.py            the app menu (办事指南 / 我要办理 / 我的申请 / 待办)
"""

NAME = "wecom"
