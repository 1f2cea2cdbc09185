"""License facts for SBOMs: read from the metadata headers in the target, chosen in python_env (PEP 639 order)."""

from envcapture.probes.python_env import package_license, pypi_purl
from envcapture.probes.target import license_headers, read_metadata_headers


def headers_of(tmp_path, text):
    path = tmp_path / "METADATA"
    path.write_text(text)
    return license_headers(read_metadata_headers(str(path)))


def test_license_expression_wins_and_is_canonical(tmp_path):
    found = headers_of(tmp_path, "Metadata-Version: 2.4\nName: a\nVersion: 1\nLicense-Expression: mit or apache-2.0\n"
                                 "License: BSD\nClassifier: License :: OSI Approved :: MIT License\n\nbody")
    assert package_license(found) == {"license": "MIT OR Apache-2.0", "license_kind": "spdx"}


def test_a_whole_license_text_is_not_a_license_name(tmp_path):
    found = headers_of(tmp_path, "Name: a\nVersion: 1\nLicense: Copyright (c) 2020 Somebody\n        Permission is "
                                 "hereby granted\nClassifier: License :: OSI Approved :: BSD License\n\n")
    assert found["license"] is None
    assert package_license(found) == {"license": "BSD License", "license_kind": "text"}


def test_classifiers_that_name_one_license_become_spdx(tmp_path):
    found = headers_of(tmp_path, "Name: a\nVersion: 1\nClassifier: License :: OSI Approved :: MIT License\n"
                                 "Classifier: Programming Language :: Python\n\n")
    assert package_license(found) == {"license": "MIT", "license_kind": "spdx"}
    found = headers_of(tmp_path, "Name: a\nVersion: 1\nClassifier: License :: OSI Approved :: Apache Software License\n\n")
    assert package_license(found) == {"license": "Apache Software License", "license_kind": "text"}


def test_no_license_at_all(tmp_path):
    assert headers_of(tmp_path, "Name: a\nVersion: 1\n\n") is None
    assert package_license(None) == {}
    assert package_license({"expression": None, "license": "UNKNOWN", "classifiers": []}) == {}


def test_purl_follows_the_purl_spec():
    assert pypi_purl("Jinja2", "3.1.6") == "pkg:pypi/jinja2@3.1.6"
    assert pypi_purl("ruamel.yaml", "0.19.1") == "pkg:pypi/ruamel-yaml@0.19.1"  # as syft writes it
    assert pypi_purl("torch", "2.11.0+cu130") == "pkg:pypi/torch@2.11.0%2Bcu130"


def test_a_license_name_that_is_no_spdx_expression_is_kept_as_text(tmp_path):
    """A one-line License header is what the author wrote: it beats the classifiers (even one that names an
    SPDX license), unless it is empty, UNKNOWN, or too long to be a name."""
    classifier = "Classifier: License :: OSI Approved :: MIT License\n"
    found = headers_of(tmp_path, "Name: a\nVersion: 1\nLicense: research use only\n" + classifier + "\n")
    assert package_license(found) == {"license": "research use only", "license_kind": "text"}
    for declared in ("", "UNKNOWN", "x " * 101):
        found = {"expression": None, "license": declared, "classifiers": ["License :: OSI Approved :: BSD License"]}
        assert package_license(found) == {"license": "BSD License", "license_kind": "text"}


def test_classifiers_of_which_only_some_name_an_spdx_license_stay_text(tmp_path):
    found = headers_of(tmp_path, "Name: a\nVersion: 1\nClassifier: License :: OSI Approved :: MIT License\n"
                                 "Classifier: License :: OSI Approved :: BSD License\n\n")
    assert package_license(found) == {"license": "MIT License; BSD License", "license_kind": "text"}
