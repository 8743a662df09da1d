"""The official `openai` Python SDK against the running gateway."""

import openai
import pytest


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)


def test_chat_completion(client):
    reply = client.chat.completions.create(
        model="oai/gpt-4.1", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from mock"
    assert reply.usage.prompt_tokens == 12
    assert reply.usage.completion_tokens == 5


def test_streaming_without_usage_gets_no_usage_chunk(client):
    chunks = list(
        client.chat.completions.create(
            model="oai/gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from mock"
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streaming_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="oai/gpt-4.1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage.completion_tokens == 5
    assert chunks[-1].choices == []


def test_streamed_tool_call_arguments_arrive_whole(client):
    stream = client.chat.completions.create(
        model="oai/tool",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        stream=True,
    )
    arguments = ""
    name = None
    for chunk in stream:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = call.function.name or name
            arguments += call.function.arguments or ""
    assert name == "get_weather"
    assert arguments == '{"city":"Paris"}'


def test_metadata_is_recorded_not_forwarded(client, gateway):
    client.chat.completions.create(
        model="oai/gpt-4.1",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"switchyard": {"tags": ["sdk"], "trace_id": "trace-sdk-1"}},
        extra_headers={"X-Switchyard-Branch": "main"},
    )
    for _ in range(50):
        rows = gateway.admin("/api/requests?limit=20")["requests"]
        match = [r for r in rows if r["trace_id"] == "trace-sdk-1"]
        if match:
            break
        import time

        time.sleep(0.1)
    assert match, "request recorded"
    assert match[0]["tags"] == ["sdk"]
    assert match[0]["branch"] == "main"
    assert match[0]["cost_usd"] > 0


def test_rate_limit_error_keeps_status_and_message(client):
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model="oai/fail-429", messages=[{"role": "user", "content": "hi"}])
    assert "mock failure 429" in str(err.value)


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nope/gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert "no provider named 'nope'" in str(err.value)


def test_bad_key_is_an_authentication_error(gateway):
    bad = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sy-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="oai/gpt-4.1", messages=[{"role": "user", "content": "hi"}])


def test_a_stream_cut_midway_raises(client):
    stream = client.chat.completions.create(
        model="oai/cut", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError) as err:
        for _ in stream:
            pass
    assert "stream failed" in str(err.value)


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert "oai/gpt-4.1" in ids
    assert "ant/claude-sonnet-4-5" in ids


def test_openai_client_on_anthropic(client):
    # Translated: OpenAI chat in, Anthropic messages upstream.
    reply = client.chat.completions.create(
        model="ant/claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Hello from mock"
    assert reply.usage.prompt_tokens == 170
    chunks = list(
        client.chat.completions.create(
            model="ant/claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from mock"
    assert chunks[-1].usage.completion_tokens == 7


def test_responses_api_on_anthropic(client):
    # Translated: OpenAI Responses in, Anthropic messages upstream.
    response = client.responses.create(model="ant/claude-sonnet-4-5", instructions="Be brief.", input="hi")
    assert response.output_text == "Hello from mock"
    assert response.usage.input_tokens == 170
    events = list(
        client.responses.create(
            model="ant/tool",
            input="weather?",
            tools=[{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
            stream=True,
        )
    )
    assert events[0].type == "response.created"
    completed = events[-1]
    assert completed.type == "response.completed"
    call = completed.response.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    assert call.arguments == '{"city": "Paris"}'


def test_responses_api_passes_through_to_openai(client):
    response = client.responses.create(model="oai/gpt-4.1", input="hi")
    assert response.output_text == "Hello from mock"
    assert response.usage.output_tokens == 6


def test_embeddings(client):
    result = client.embeddings.create(model="oai/text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 16
