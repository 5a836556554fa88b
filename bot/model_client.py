"""The call to an OpenAI-compatible chat endpoint (a self-hosted Qwen, DeepSeek or Llama server, or a
hosted one) for the sale's optional model reader (bot/flows/model.py): one POST, a short time-out,
and None on any error, so that the sale goes on exactly as without a model."""
from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "You read one message a customer sent to an insurance sales assistant. Answer with one JSON object "
    'and nothing else: {"command": <one of "commands", or "none">, "facts": {<question id>: <value>}}. '
    "Give only facts the message states, with values of the types in \"facts\"; amounts in CNY, yearly "
    "incomes per year, the budget per month. Never invent a fact, a figure, a plan or a decision: "
    "choose a command that moves the sale only when the customer clearly says so."
)


class ModelClient:
    def __init__(self, url: str, model: str, key: str | None = None, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/") + "/chat/completions"
        self.model, self.key, self.timeout = model, key, timeout

    def __call__(self, request: dict[str, Any]) -> dict[str, Any] | None:
        body = {"model": self.model, "temperature": 0, "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": INSTRUCTIONS},
                             {"role": "user", "content": json.dumps(request, ensure_ascii=False)}]}
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        call = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(call, timeout=self.timeout) as response:  # a configured URL
                answer = json.loads(response.read())
            content = answer["choices"][0]["message"]["content"]
            parsed = json.loads(content)
        except Exception as error:  # any failure: the sale goes on without the model
            log.warning("the language model gave no usable answer (%s)", type(error).__name__)
            return None
        return parsed if isinstance(parsed, dict) else None
