"""The issue preview shown in the Dagster UI's metadata (#17): frontmatter as YAML, no broken images
or relative links."""

from jarkdown_pipeline.orchestration.metadata import preview_text

BASE_URL = "https://acme.atlassian.net"

ISSUE = """---
key: ABC-1
summary: 'A: b'
labels:
- x
---

# ABC-1: A: b

See ![diagram.png](attachments/diagram.png) and [ALPHA-15](../ALPHA-15/ALPHA-15.md "Title").
A file: [spec \\(v2\\).txt](attachments/spec%20\\(v2\\).txt); the web: [site](https://example.com/a\\(b\\)).

```
[kept](attachments/in-code.txt)
```
"""


def test_frontmatter_becomes_a_fenced_yaml_block():
    preview = preview_text(ISSUE, BASE_URL)
    assert preview.startswith("```yaml\nkey: ABC-1\nsummary: 'A: b'\nlabels:\n- x\n```\n\n# ABC-1: A: b\n")
    assert "\n---\n" not in preview


def test_images_become_their_names_and_relative_links_text_or_jira():
    preview = preview_text(ISSUE, BASE_URL)
    assert "See *(image: diagram.png)* and [ALPHA-15](https://acme.atlassian.net/browse/ALPHA-15)." in preview
    assert "A file: spec \\(v2\\).txt; the web: [site](https://example.com/a\\(b\\))." in preview
    assert "](attachments/" not in preview.split("```\n[kept]")[0]
    assert "[kept](attachments/in-code.txt)" in preview, "code blocks are shown as written"


def test_a_file_without_frontmatter_and_a_long_body():
    preview = preview_text("# X-1\n\n" + "word " * 5000, BASE_URL, max_chars=100)
    assert preview.startswith("# X-1\n") and preview.endswith("*... preview truncated*")
    assert "```yaml" not in preview
