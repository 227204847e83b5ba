"""Media nodes name a Media Services id, not the attachment id: same-named uploads must stay apart."""

from jarkdown_pipeline.markdown import adf_to_markdown
from jarkdown_pipeline.markdown.media import MediaIndex

TWO_UPLOADS_OF_ONE_NAME = [
    # Given newest first on purpose: the oldest upload is claimed first whatever the order.
    {
        "attachment_id": "10027",
        "filename": "data-export-10027.csv",
        "original_filename": "data-export.csv",
        "mime_type": "text/csv",
    },
    {
        "attachment_id": "10026",
        "filename": "data-export.csv",
        "original_filename": "data-export.csv",
        "mime_type": "text/csv",
    },
]


def _media_group(media_id: str, alt: str = "data-export.csv") -> dict:
    return {
        "type": "mediaGroup",
        "content": [{"type": "media", "attrs": {"id": media_id, "alt": alt, "type": "file", "collection": ""}}],
    }


def test_distinct_media_ids_with_one_name_link_to_distinct_files():
    doc = {
        "type": "doc",
        "version": 1,
        "content": [_media_group("uuid-a"), _media_group("uuid-b"), _media_group("uuid-a")],
    }
    links = adf_to_markdown(doc, media=MediaIndex(TWO_UPLOADS_OF_ONE_NAME)).split("\n\n")
    assert links == [
        "[data-export.csv](attachments/data-export.csv)",
        "[data-export.csv](attachments/data-export-10027.csv)",
        "[data-export.csv](attachments/data-export.csv)",  # the same upload mentioned again
    ]


def test_a_unique_name_always_resolves_to_its_file():
    index = MediaIndex(
        [{"attachment_id": "1", "filename": "a.png", "original_filename": "a.png", "mime_type": "image/png"}]
    )
    assert index.resolve({"id": "x", "alt": "a.png"})["attachment_id"] == "1"
    assert index.resolve({"id": "y", "alt": "a.png"})["attachment_id"] == "1"
    assert index.resolve({"id": "z", "alt": "missing.png"}) is None
