"""Escaping rules: text copied from Jira must render as the same text in any CommonMark/GFM viewer.

Backslash escapes are used for ASCII punctuation (CommonMark renders ``\\*`` as ``*``); a few
characters only matter in some positions (line start, table cells, ``<`` before a tag name) and
are escaped only there, so ordinary prose stays readable in the source.
"""

import re
import unicodedata
from urllib.parse import quote

# Always special inline: emphasis, code, links, strikethrough, GitHub math, escapes themselves.
_ALWAYS_ESCAPED = frozenset("\\`*[]~$")
# `<` starts raw HTML or an autolink only before a letter, `/`, `!` or `?`.
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")
# `&` starts a character reference only in these shapes (`&amp;`, `&#123;`, `&#x1F;`).
_ENTITY_START = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# Block syntax that a line of text could accidentally start.
_LINE_START_PUNCT = re.compile(r"^(?:[-+=>]|#{1,6}(?=[ \t]|$))")
_LINE_START_ORDERED = re.compile(r"^(\d{1,9})([.)])")
_LEADING_WHITESPACE = re.compile(r"^[ \t]+")
_TRAILING_HEADING_HASHES = re.compile(r"(^|[ \t])(#+)[ \t]*$")
_NEEDS_ESCAPE = re.compile(r"[\\`*\[\]~$_|<&]")
# The scheme GitHub's autolink extension links in plain text besides http(s): its colon is escaped,
# so the text stays text (ftp is not on the link allow-list). Its email autolinks (``xmpp:``, a
# prefixed ``mailto:``) ignore escapes: ``links_gfm`` handles them on the finished Markdown.
_OTHER_AUTOLINK_SCHEME = re.compile(r"(ftp):", re.IGNORECASE)  # cmark-gfm links "0ftp://x" too
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_BACKTICK_RUN = re.compile(r"`+")
# The only schemes a link or image may have (besides relative URLs and fragments): no script, no data.
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# What a browser ignores when it reads a URL: C0 controls and spaces around it, tabs and line
# breaks anywhere in it ("java\tscript:" is "javascript:").
# (Unicode whitespace at the start too: ``link_destination`` strips it.)
_URL_LEADING_IGNORED = re.compile(r"^[\s\x00-\x20]+")
_URL_IGNORED_INSIDE = re.compile(r"[\t\n\r]")


def clean_text(text: str) -> str:
    """Replace lone surrogates (possible in JSON, impossible in UTF-8 files) with U+FFFD."""
    if not text or text.isascii():
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def is_markdown_whitespace(char: str) -> bool:
    """CommonMark's Unicode whitespace: category Zs, tab, line feed, form feed, carriage return."""
    return char == "" or char in "\t\n\f\r" or unicodedata.category(char) == "Zs"


_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def is_markdown_punctuation(char: str, *, symbols: bool = True) -> bool:
    """CommonMark's punctuation: ASCII punctuation and Unicode category P, plus category S since
    spec 0.31 (``symbols=True``). Parsers differ on S, so callers check both readings."""
    if not char:
        return False
    if char in _ASCII_PUNCTUATION:
        return True
    category = unicodedata.category(char)[0]
    return category == "P" or (symbols and category == "S")


def escape_text(text: str, *, in_table: bool = False) -> str:
    """Escape inline text so it renders literally. Line-start rules are applied later, per line.

    ``_`` between two alphanumerics is left alone (GFM never treats it as emphasis), which keeps
    ``snake_case`` readable. ``|`` is escaped outside tables; inside a table the cell renderer
    escapes every pipe (including those in code spans), so it is left to it here.
    """
    text = clean_text(text)
    autolink_scheme = ":" in text and _OTHER_AUTOLINK_SCHEME.search(text) is not None
    if not autolink_scheme and not _NEEDS_ESCAPE.search(text):
        return text
    out = []
    last = len(text) - 1
    for index, char in enumerate(text):
        if char in _ALWAYS_ESCAPED:
            out.append("\\" + char)
        elif char == "_":
            before = text[index - 1] if index > 0 else ""
            after = text[index + 1] if index < last else ""
            out.append("_" if before.isalnum() and after.isalnum() else "\\_")
        elif char == "|" and not in_table:
            out.append("\\|")
        else:
            out.append(char)
    escaped = "".join(out)
    if autolink_scheme:
        escaped = escape_autolink_schemes(escaped)
    return escape_tag_starts(_ENTITY_START.sub(r"\\&", escaped))


_BARE_URL_START = re.compile(r"(?:https?|ftp)://|www\.", re.IGNORECASE)
_ASCII_NON_SPACE_RUN = re.compile(r"[^ \t\n\r\f\v]+")


def escape_tag_starts(text: str) -> str:
    """Each ``<`` that would open an HTML tag as ``\\<``; as ``&lt;`` after a bare URL in the same run
    of non-blank text: GitHub's autolink takes the backslash there into the URL, and the ``<`` would
    open a live tag."""
    if "<" not in text:
        return text
    return _ASCII_NON_SPACE_RUN.sub(_escape_tag_starts_in_run, text)


def _escape_tag_starts_in_run(match: "re.Match[str]") -> str:
    run = match.group(0)
    if "<" not in run:
        return run
    url = _BARE_URL_START.search(run)
    if url is None:
        return _HTML_START.sub(r"\\<", run)
    return _HTML_START.sub(r"\\<", run[: url.start()]) + _HTML_START.sub("&lt;", run[url.start() :])


def escape_autolink_schemes(markdown: str) -> str:
    """``ftp:`` with an escaped colon: GitHub would link it by itself (see above)."""
    return _OTHER_AUTOLINK_SCHEME.sub(r"\1\\:", markdown) if ":" in markdown else markdown


# What GFM's autolink extension would pick up. Inside such a token it ignores backslash escapes
# (``www.x.org\*`` shows the backslash), so these tokens are written as explicit links instead.
_URL_TOKEN = re.compile(r"(?:(?:https?|ftp)://|www\.)[^\s<]+", re.IGNORECASE)
_URL_TRAILING_PUNCTUATION = "?!.,:*_~'\""


def _trim_url_token(token: str) -> str:
    """GFM's end-of-autolink rule: drop trailing punctuation and unbalanced closing parentheses."""
    while token:
        if token[-1] in _URL_TRAILING_PUNCTUATION:
            token = token[:-1]
        elif token[-1] == ")" and token.count(")") > token.count("("):
            token = token[:-1]
        else:
            break
    return token


def escape_text_linking_urls(text: str, *, in_table: bool = False) -> str:
    """Like :func:`escape_text`, but bare URLs become explicit links showing the same text."""
    text = clean_text(text)
    if "://" not in text and "www." not in text.lower():
        return escape_text(text, in_table=in_table)
    out = []
    position = 0
    for match in _URL_TOKEN.finditer(text):
        token = _trim_url_token(match.group(0))
        if len(token) <= len("www.") or token.endswith("://"):
            continue
        start = match.start()
        prefix = escape_text(text[position:start], in_table=in_table)
        if prefix.endswith("!") and (len(prefix) - 1 - len(prefix[:-1].rstrip("\\"))) % 2 == 0:
            prefix = prefix[:-1] + "\\!"  # an unescaped `!` before the link we write would make it an image
        out.append(prefix)
        href = token if "://" in token else f"http://{token}"
        # An ftp:// token is not an allowed link: it stays text.
        out.append(
            link(escape_text(token, in_table=in_table), href)
            if is_safe_url(href)
            else escape_text(token, in_table=in_table)
        )
        position = start + len(token)
    out.append(escape_text(text[position:], in_table=in_table))
    return "".join(out)


def escape_line_start(line: str) -> str:
    """Escape what would turn a line of paragraph text into block syntax (list, heading, quote...).

    Leading spaces are dropped first: CommonMark ignores them on paragraph lines anyway, and four
    of them would start an indented code block.
    """
    line = _LEADING_WHITESPACE.sub("", line)
    match = _LINE_START_ORDERED.match(line)
    if match:
        return f"{match.group(1)}\\{match.group(2)}{line[match.end() :]}"
    if _LINE_START_PUNCT.match(line):
        return "\\" + line
    return line


def escape_heading_end(text: str) -> str:
    """A run of ``#`` at the end of an ATX heading is a closing sequence; escape it to keep it."""
    return _TRAILING_HEADING_HASHES.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def escape_table_cell(markdown: str) -> str:
    """Make inline Markdown safe inside a GFM table cell: every pipe escaped, no line breaks.

    GFM splits cells before inline parsing and removes one backslash before each pipe, so ``\\|``
    is right even inside code spans.
    """
    return markdown.replace("|", "\\|").replace("\r", "").replace("\n", " ")


def escape_html(text: str) -> str:
    """Escape text placed inside raw HTML (a ``<summary>``, for example)."""
    return clean_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_span(text: str) -> str:
    """Inline code showing ``text`` verbatim: a backtick fence longer than any run inside."""
    text = clean_text(text).replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    longest = max((len(run) for run in _BACKTICK_RUN.findall(text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each side when both are present, so pad to keep them.
    pad = bool(text) and (
        text[0] == "`" or text[-1] == "`" or (text[0] == " " and text[-1] == " " and text.strip(" ") != "")
    )
    if not text:
        return "` `"  # an empty code span cannot be written; one space is the closest visible form
    return f"{fence} {text} {fence}" if pad else f"{fence}{text}{fence}"


def code_fence(code: str, *, minimum: int = 3) -> str:
    """A backtick fence longer than any backtick run in ``code``."""
    longest = max((len(run) for run in _BACKTICK_RUN.findall(code)), default=0)
    return "`" * max(minimum, longest + 1)


def code_info_string(language: str | None) -> str:
    """A fence info string: the first word of the language, without backticks."""
    if not language:
        return ""
    words = clean_text(str(language)).replace("`", "").split()
    return words[0] if words else ""


def url_scheme(url: str) -> str | None:
    """The scheme a browser reads from ``url`` (lower case), or None for a relative URL.

    ``url`` is the URL as the browser gets it, after Markdown's own escape and entity decoding.
    """
    match = _SCHEME.match(_URL_LEADING_IGNORED.sub("", _URL_IGNORED_INSIDE.sub("", url)))
    return match.group(1).lower() if match else None


def is_safe_url(url: str) -> bool:
    """Relative URLs, fragments and SAFE_URL_SCHEMES only; ``javascript:``, ``data:`` and the like are not links."""
    scheme = url_scheme(url)
    return scheme is None or scheme in SAFE_URL_SCHEMES


def link_destination(url: str) -> str:
    """A link destination that CommonMark reads back as ``url``: no spaces, parentheses escaped,
    and no character reference (``&#58;``) left for the parser to decode into something else."""
    out = []
    for char in clean_text(url).strip():
        if char in "()\\":
            out.append("\\" + char)
        elif char == "<":
            out.append("%3C")
        elif char == ">":
            out.append("%3E")
        elif char.isspace() or unicodedata.category(char) == "Cc":
            out.append(quote(char, safe=""))
        else:
            out.append(char)
    # ``&amp;``, not ``\\&``: cmark decodes entities before backslash escapes in a destination.
    return _ENTITY_START.sub("&amp;", "".join(out))


def link_title(title: str) -> str:
    """A double-quoted link title."""
    title = clean_text(title).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{title}"'


def link(text_markdown: str, url: str, title: str | None = None) -> str:
    """``[text](url "title")``; an unsafe URL keeps its text and shows the URL as code, not a link."""
    if not is_safe_url(url):
        return f"{text_markdown} ({code_span(url)})" if text_markdown else code_span(url)
    title_part = f" {link_title(title)}" if title else ""
    return f"[{text_markdown}]({link_destination(url)}{title_part})"


def image(alt_markdown: str, url: str) -> str:
    """``![alt](url)``; an unsafe URL keeps the alt text and shows the URL as code."""
    return "!" + link(alt_markdown, url) if is_safe_url(url) else link(alt_markdown, url)


def percent_encode_path_segment(name: str) -> str:
    """Percent-encode a file name for a relative link (spaces, parentheses, `#`, `%`...)."""
    return quote(clean_text(name), safe="")
