import pytest

from registry.domain.errors import InvalidInput
from registry.domain.paths import validate_file_path

GOOD = ["model.bin", "weights/part-00001.safetensors", "tokenizer/vocab.json", "a b/c.txt",
        "ünïcode/naïve.txt", ".hidden", "a..b", "v1.2/config.yaml"]
BAD = ["", "../x", "/etc/passwd", "a/../../b", "a/./b", "./a", "a/..", "C:\\x", "C:x", "a\\b",
       "%2e%2e/x", "a%2fb", "a\x00b", "a\nb", "a//b", "a/", "x" * 5000, "a/" + "y" * 300,
       "u\u0308.txt", "\x7f"]


@pytest.mark.parametrize("path", GOOD)
def test_clean_paths_pass(path):
    assert validate_file_path(path) == path


@pytest.mark.parametrize("path", BAD, ids=lambda p: repr(p[:20]))
def test_bad_paths_are_refused(path):
    with pytest.raises(InvalidInput) as caught:
        validate_file_path(path)
    assert "path" in caught.value.extensions["errors"]
