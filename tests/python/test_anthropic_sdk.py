"""The official `anthropic` Python SDK against the running gateway."""

import anthropic
import pytest


@pytest.fixture
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def test_message(client):
    message = client.messages.create(
        model="ant/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "Hello from mock"
    assert message.usage.input_tokens == 20
    assert message.usage.cache_read_input_tokens == 100


def test_bearer_auth_works_too(gateway):
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=gateway.key, max_retries=0)
    message = client.messages.create(
        model="ant/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "Hello from mock"


def test_streaming(client):
    with client.messages.stream(
        model="ant/claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from mock"
    assert final.usage.output_tokens == 7
    assert final.stop_reason == "end_turn"


def test_streamed_tool_use(client):
    with client.messages.stream(
        model="ant/tool",
        max_tokens=100,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "weather in Paris?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_beta_messages_with_query_string(client):
    # Claude Code calls /v1/messages?beta=true with anthropic-beta headers.
    message = client.beta.messages.create(
        model="ant/claude-sonnet-4-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
        betas=["prompt-caching-2024-07-31"],
    )
    assert message.content[0].text == "Hello from mock"


def test_rate_limit_error(client):
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="ant/fail-429", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert "mock failure 429" in str(err.value)


def test_bad_key(gateway):
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="sy-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="ant/claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


def test_claude_style_client_on_an_openai_format_provider(client):
    # Translated: Anthropic messages in, OpenAI chat completions upstream.
    message = client.messages.create(
        model="oai/gpt-4.1", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "Hello from mock"
    assert message.usage.input_tokens == 10
    with client.messages.stream(
        model="oai/tool",
        max_tokens=100,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "tool_use"
    assert final.content[0].input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"


def test_a_stream_cut_midway_raises(client):
    with pytest.raises(anthropic.APIError) as err:
        with client.messages.stream(
            model="ant/cut", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            for _ in stream:
                pass
    assert "stream failed" in str(err.value)


def test_claude_style_client_on_a_gemini_format_provider(client):
    # Translated: Anthropic messages in, Gemini generateContent upstream.
    message = client.messages.create(
        model="gem/gemini-2.5-flash", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "Hello from mock"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 20
    assert message.usage.cache_read_input_tokens == 10
    assert message.usage.output_tokens == 8

    # Streamed, with thinking and a tool call, then the tool's result sent back.
    tools = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    question = {"role": "user", "content": "weather in Paris?"}
    with client.messages.stream(
        model="gem/gemini-2.5-flash-tool",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        tools=tools,
        messages=[question],
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "tool_use"]
    assert final.content[0].thinking == "Thinking about it."
    call = final.content[1]
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 8

    answer = client.messages.create(
        model="gem/gemini-2.5-flash",
        max_tokens=100,
        tools=tools,
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]},
        ],
    )
    assert answer.content[0].text == "Hello from mock"

    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="gem/fail-429", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert "mock failure 429" in str(err.value)


def test_thinking_from_an_openai_format_provider_arrives_as_thinking_blocks(client):
    with client.messages.stream(
        model="oai/think",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "thinking"
    assert final.content[0].thinking == "Let me think."
    assert final.content[1].text == "Hello from mock"


def test_three_turn_tool_conversation_through_translation(client, tmp_path):
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("alpha")
    second.write_text("beta")
    tools = [{"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}}}}]
    messages = [{"role": "user", "content": f"Read {first}"}]
    for expected_path, content in ((first, "alpha"), (second, "beta")):
        call = client.messages.create(model="oai/agent", max_tokens=256, tools=tools, messages=messages)
        assert call.stop_reason == "tool_use"
        use = call.content[0]
        assert use.name == "Read" and use.input == {"file_path": str(expected_path)}
        messages.append({"role": "assistant", "content": [c.model_dump(exclude_none=True) for c in call.content]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": content}]})
        answer = client.messages.create(model="oai/agent", max_tokens=256, tools=tools, messages=messages)
        assert answer.content[0].text == f"The tool returned: {content}"
        messages.append({"role": "assistant", "content": answer.content[0].text})
        messages.append({"role": "user", "content": f"Now read {second}"})
