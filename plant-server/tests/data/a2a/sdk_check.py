"""Parses plant's A2A agent cards strictly with the official A2A Python SDK (a2a-sdk) and checks
the 1.0 card's signature with the SDK's own verifier.

Reads {"agents": [{"v1": <1.0 card>, "v03": <0.3 card>}, ...], "jwks": <JWK Set>, "jku": <where
the set is served>, "base_url": <the running server>, "paths": [<card paths>]} on stdin and
writes {"agents": [<report per agent, in order>], "resolver": <report per path>} on stdout: for
every check, null when it passed or the error it raised. Checks that must fail (a card parsed as the other version, a changed card, another
key) report the error they raised, or null when they wrongly passed; tests/agent_card.rs reads
the report.

Strict means:
  1.0: google.protobuf.json_format.ParseDict into a2a.types.AgentCard without
       ignore_unknown_fields (an unknown member is an error), the SDK's
       validate_proto_required_fields, and the parsed card written back (MessageToDict) equal
       to the input, so no member was dropped or coerced;
  0.3: a2a.compat.v0_3.types.AgentCard.model_validate_json with strict=True (no coercion) and
       extra='forbid' (an unknown member at any depth is an error), and the model dumped back
       (by alias, unset members left out) equal to the input.
"""

import copy
import json
import sys

from google.protobuf import json_format
from jwt import PyJWK
from jwt.exceptions import PyJWKError

from a2a.compat.v0_3 import types as v03
from a2a.types import AgentCard
from a2a.utils import signing
from a2a.utils._jcs import canonicalize
from a2a.utils.proto_utils import validate_proto_required_fields


def parse_v1(card):
    message = json_format.ParseDict(copy.deepcopy(card), AgentCard())
    validate_proto_required_fields(message)
    back = json_format.MessageToDict(message)
    if back != card:
        raise ValueError(f"the card does not round-trip: {json.dumps(back, sort_keys=True)}")
    return message


def parse_v03(card):
    model = v03.AgentCard.model_validate_json(json.dumps(card), strict=True, extra="forbid")
    back = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if back != card:
        raise ValueError(f"the card does not round-trip: {json.dumps(back, sort_keys=True)}")
    return model


def error_of(check):
    """None when `check()` passes, else the error it raised, named by its type."""
    try:
        check()
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        return f"{type(e).__name__}: {e}"
    return None


def verifier(jwks, jku):
    def key_provider(kid, asked_jku):
        if asked_jku != jku:
            raise PyJWKError(f"jku {asked_jku!r} is not {jku!r}")
        for key in jwks["keys"]:
            if key.get("kid") == kid:
                return PyJWK(key)
        raise PyJWKError(f"no key {kid!r} in the set")

    return signing.create_signature_verifier(key_provider, ["EdDSA"])


def check(v1, card03, jwks, jku):
    verify = verifier(jwks, jku)
    report = {
        "v1_strict": error_of(lambda: parse_v1(v1)),
        "v03_strict": error_of(lambda: parse_v03(card03)),
        "v1_signature": error_of(lambda: verify(parse_v1(v1))),
    }

    # The same signature checked without the SDK's protobuf path: ed25519 over the protected
    # header and the RFC 8785 form of the card as served, without `signatures`.
    def raw_check():
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from jwt.utils import base64url_decode, base64url_encode

        (sig,) = v1["signatures"]
        header = json.loads(base64url_decode(sig["protected"]))
        assert header["alg"] == "EdDSA" and header["jku"] == jku, header
        (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        public = Ed25519PublicKey.from_public_bytes(base64url_decode(key["x"]))
        unsigned = {k: v for k, v in v1.items() if k != "signatures"}
        payload = base64url_encode(canonicalize(unsigned).encode("utf-8")).decode()
        public.verify(base64url_decode(sig["signature"]), f"{sig['protected']}.{payload}".encode())

    report["v1_signature_raw"] = error_of(raw_check)

    # What must fail. A card of one version is not a card of the other.
    report["v1_as_v03"] = error_of(lambda: parse_v03(v1))
    report["v03_as_v1"] = error_of(lambda: parse_v1(card03))
    # The 0.3 field the old mixed card carried is not a 1.0 field.
    mixed = copy.deepcopy(v1)
    mixed["capabilities"]["stateTransitionHistory"] = False
    report["v1_with_v03_field"] = error_of(lambda: parse_v1(mixed))
    # extra='forbid' reaches nested models.
    nested = copy.deepcopy(card03)
    nested["skills"][0]["unknown"] = "x"
    report["v03_nested_unknown"] = error_of(lambda: parse_v03(nested))
    # A changed card, anywhere, no longer verifies.
    for name, change in {
        "name": lambda c: c.update(name=c["name"] + " (copy)"),
        "skill_tag": lambda c: c["skills"][0]["tags"].append("extra"),
        "endpoint": lambda c: c["supportedInterfaces"][0].update(url="https://impostor.example/a"),
    }.items():
        changed = copy.deepcopy(v1)
        change(changed)
        report[f"tampered_{name}"] = error_of(lambda: verify(parse_v1(changed)))
    # The right card under another key with the same kid does not verify either.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from jwt.utils import base64url_encode

    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    forged = copy.deepcopy(jwks)
    forged["keys"][0]["x"] = base64url_encode(other).decode()
    report["other_key"] = error_of(lambda: verifier(forged, jku)(parse_v1(v1)))
    report["other_jku"] = error_of(lambda: verifier(jwks, jku + "?other")(parse_v1(v1)))
    return report


async def resolve(base_url, path, jku):
    """The SDK's own client: A2ACardResolver fetches the card over HTTP and verifies its
    signature with the key set it fetches from the server, as a marketplace client would."""
    import httpx

    from a2a.client.card_resolver import A2ACardResolver

    async with httpx.AsyncClient() as http:
        jwks = (await http.get(f"{base_url}/.well-known/jwks.json")).raise_for_status().json()
        resolver = A2ACardResolver(http, base_url)
        card = await resolver.get_agent_card(path, signature_verifier=verifier(jwks, jku))
        if not card.supported_interfaces or not card.signatures:
            raise ValueError(f"resolved without an interface or a signature: {card}")
        # A 0.3 client's card, read through the SDK's compatibility path.
        old = await resolver.get_agent_card(path, http_kwargs={"headers": {"A2A-Version": "0.3"}})
        if old.supported_interfaces[0].url != card.supported_interfaces[0].url:
            raise ValueError("the 0.3 card names another endpoint")


def main():
    import asyncio

    given = json.load(sys.stdin)
    agents = [
        check(agent["v1"], agent["v03"], given["jwks"], given["jku"]) for agent in given["agents"]
    ]
    resolver = [
        error_of(lambda: asyncio.run(resolve(given["base_url"], path, given["jku"])))
        for path in given["paths"]
    ]
    json.dump({"agents": agents, "resolver": resolver}, sys.stdout)


if __name__ == "__main__":
    main()
