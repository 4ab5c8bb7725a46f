"""The official openai Python client against a running `crucible serve`: a peer that parses our responses, streams
and errors with its own (strict, typed) models. Prints one JSON object of what it saw; test_serve compares it.

usage: openai_client_check.py BASE_URL MODEL [--chat]
"""
import json
import sys

import openai


def main() -> None:
    base_url, model = sys.argv[1], sys.argv[2]
    chat = "--chat" in sys.argv[3:]
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)
    out = {"version": openai.__version__}
    out["models"] = [m.id for m in client.models.list().data]

    c = client.completions.create(model=model, prompt="Once upon a time", max_tokens=16, temperature=0, seed=1)
    out["completion"] = {"text": c.choices[0].text, "finish_reason": c.choices[0].finish_reason,
                         "usage": c.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
                         "object": c.object, "model": c.model}
    text = ""
    finish = None
    for chunk in client.completions.create(model="default", prompt="Once upon a time", max_tokens=16, temperature=0,
                                           stream=True):
        text += chunk.choices[0].text
        finish = chunk.choices[0].finish_reason or finish
    out["completion_stream"] = {"text": text, "finish_reason": finish}

    errors = {}
    for name, kwargs in {"unknown_model": {"model": "no-such-model"},
                         "max_tokens_zero": {"max_tokens": 0},
                         "n_too_large": {"n": 100000}}.items():
        args = {"model": model, "prompt": "hi", "max_tokens": 4, **kwargs}
        try:
            client.completions.create(**args)
            errors[name] = None
        except openai.APIStatusError as e:
            errors[name] = {"status": e.status_code, "class": type(e).__name__,
                            "code": (e.body or {}).get("code") if isinstance(e.body, dict) else None}
    out["errors"] = errors

    if chat:
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is 2+2?"}],
                                           max_tokens=16, temperature=0)
        out["chat"] = {"content": r.choices[0].message.content, "role": r.choices[0].message.role,
                       "finish_reason": r.choices[0].finish_reason, "object": r.object}
        text = ""
        for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "What is 2+2?"}],
                                                    max_tokens=16, temperature=0, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
        out["chat_stream"] = {"content": text}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
