import json
import stat

import pytest

from watermark.errors import KeyFileError
from watermark.keys import WatermarkKey, check_reveal, load_key, save_key


def test_plain_round_trip_and_commitment(tmp_path):
    key = WatermarkKey.generate()
    save_key(key, tmp_path / "k.json")
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600
    loaded = load_key(tmp_path / "k.json")
    assert loaded.secret == key.secret and loaded.key_id == key.key_id
    rev = key.reveal()
    assert check_reveal(rev["salt"], rev["secret"], key.commitment)
    assert not check_reveal(rev["salt"], WatermarkKey.generate().secret.hex(), key.commitment)
    # subkeys are separated by label
    assert key.derive("a") != key.derive("b")
    assert key.public_record()["commitment"] == key.commitment


def test_refuses_to_overwrite(tmp_path):
    key = WatermarkKey.generate()
    save_key(key, tmp_path / "k.json")
    with pytest.raises(KeyFileError, match="refusing to overwrite"):
        save_key(WatermarkKey.generate(), tmp_path / "k.json")
    assert load_key(tmp_path / "k.json").secret == key.secret


def test_encrypted_round_trip_wrong_passphrase_and_tamper(tmp_path):
    key = WatermarkKey.generate()
    path = tmp_path / "k.json"
    save_key(key, path, passphrase="correct horse")
    doc = json.loads(path.read_text())
    assert "secret" not in doc and key.secret.hex() not in path.read_text()
    assert load_key(path, "correct horse").secret == key.secret
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_key(path, "wrong horse")
    with pytest.raises(KeyFileError, match="encrypted"):
        load_key(path)
    # editing a public field breaks the GCM associated data
    other = WatermarkKey.generate()
    doc["commitment"], doc["key_id"] = other.commitment, other.key_id
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="modified"):
        load_key(path, "correct horse")


@pytest.mark.parametrize("field", ["secret", "commitment", "key_id", "salt"])
def test_tampered_plain_key(tmp_path, field):
    key = WatermarkKey.generate()
    path = tmp_path / "k.json"
    save_key(key, path)
    doc = json.loads(path.read_text())
    value = doc[field]
    doc[field] = ("0" if value[0] != "0" else "1") + value[1:]
    path.write_text(json.dumps(doc))
    with pytest.raises(KeyFileError, match="tampered"):
        load_key(path)


def test_malformed_files(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(KeyFileError, match="not readable JSON"):
        load_key(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(KeyFileError, match="not a watermark key"):
        load_key(tmp_path / "b.json")
    with pytest.raises(KeyFileError, match="not found"):
        load_key(tmp_path / "missing.json")


def test_cli_keygen_encrypted_and_wrong_passphrase(tmp_path, monkeypatch, capsys):
    from watermark.cli import main

    monkeypatch.setenv("WM_PASS", "s3cret pass")
    out = tmp_path / "key.json"
    assert main(["keygen", "--out", str(out), "--passphrase-env", "WM_PASS"]) == 0
    printed = capsys.readouterr().out
    key = load_key(out, "s3cret pass")
    assert key.commitment in printed and key.secret.hex() not in printed
    monkeypatch.setenv("WM_PASS", "other")
    code = main(["verify", str(tmp_path), "--key", str(out), "--passphrase-env", "WM_PASS"])
    assert code == 2
    err = capsys.readouterr().err
    assert "wrong passphrase" in err and "other" not in err
    monkeypatch.delenv("WM_PASS")
    assert main(["keygen", "--out", str(tmp_path / "k2.json"), "--passphrase-env", "WM_PASS"]) == 2
    assert not (tmp_path / "k2.json").exists()
