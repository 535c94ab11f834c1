"""The pages a person sees instead of a screen: 403, 404, 500, styled like the rest.

The server does not know the language a person picked (the screens keep it in the browser), so
each page says what happened and what to do in Chinese first and in English below it. The
server's own sentence (which names the role or path) follows, smaller, for the technician. No
script: the page works when the scripts cannot load.
"""

from __future__ import annotations

from html import escape
from typing import Final

from aiohttp import web

_WORDS: Final[dict[int, tuple[str, str, str, str]]] = {
    403: (
        "无权打开此页",
        "您的角色不包括这项工作。如需要，请联系管理员分配角色。",
        "You may not open this page",
        "Your roles do not include this job; ask the admin for a role that does.",
    ),
    404: (
        "找不到此页",
        "链接可能有误，或冰箱、冷室已改名。请从总览重新进入。",
        "Page not found",
        "The link may be wrong, or the fridge was renamed; start again from the dashboard.",
    ),
    500: (
        "网关出错了",
        "这不是您的操作问题。请稍后重试；如仍出错，请告诉技术人员。",
        "The gateway failed",
        "Not something you did: retry in a moment, and tell the technician if it persists.",
    ),
}

# The stylesheet from here, nothing else (no script at all).
CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# The statuses a person gets this page for on a page path (the API answers JSON).
PAGE_STATUSES: Final = frozenset(_WORDS)

_PAGE: Final = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 冷链监测</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header class="bar"><a class="brand" href="/">冷链监测</a></header>
<main class="plain">
<section class="panel">
<h1>{title}</h1>
<p>{text}</p>
<p lang="en"><strong>{title_en}</strong><br>{text_en}</p>
<p class="links"><a class="button" href="/">返回总览 · Dashboard</a>
<a class="button" href="/login">登录 · Sign in</a></p>
{detail}
</section>
</main>
</body>
</html>
"""


def error_page(status: int, detail: str = "") -> web.Response:
    """The page for `status` (403, 404, or 500 for any other), with the server's `detail`."""
    title, text, title_en, text_en = _WORDS.get(status, _WORDS[500])
    body = _PAGE.format(
        title=escape(title),
        text=escape(text),
        title_en=escape(title_en),
        text_en=escape(text_en),
        detail=f'<p class="muted" lang="en"><small>{escape(detail)}</small></p>' if detail else "",
    )
    return web.Response(
        status=status,
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": CSP},
    )
