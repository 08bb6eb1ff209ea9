package proxy

import (
	"strings"
	"testing"
)

// scanJSON feeds doc to a fresh scanner in chunks of size n (all at once when n is 0).
func scanJSON(doc string, n int) usage {
	var u usage
	s := newJSONScanner(&u)
	feed(s, doc, n)
	return u
}

// feed writes doc to in in chunks of n bytes (all at once when n is 0).
func feed(in inspector, doc string, n int) {
	if n == 0 {
		in.write([]byte(doc))
		return
	}
	for len(doc) > 0 {
		k := min(n, len(doc))
		in.write([]byte(doc[:k]))
		doc = doc[k:]
	}
}

func TestJSONScanner(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      usage
	}{
		{"openai", `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini-2024-07-18",
			"choices":[{"index":0,"message":{"role":"assistant","content":"The \"usage\": {\"prompt_tokens\": 999} is text"}}],
			"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}`,
			usage{input: 19, output: 10, model: "gpt-4o-mini-2024-07-18"}},
		{"anthropic", `{"id":"msg_1","type":"message","model":"claude-sonnet","content":[{"type":"text","text":"hi"}],
			"usage":{"input_tokens":25,"output_tokens":7}}`, usage{input: 25, output: 7, model: "claude-sonnet"}},
		{"usage first, nested deeper", `{"usage":{"input_tokens":1,"output_tokens":2},"result":{"model":"m\u00e9\\n"}}`,
			usage{input: 1, output: 2, model: "mé\\n"}},
		{"tokens outside usage do not count", `{"prompt_tokens":5,"meta":{"completion_tokens":6}}`, usage{}},
		{"usage inside an array does not count", `{"usage":[{"prompt_tokens":5}]}`, usage{}},
		{"non-integers are ignored", `{"usage":{"prompt_tokens":1.5,"completion_tokens":-3,"input_tokens":null}}`, usage{}},
		{"first model wins", `{"model":"a","inner":{"model":"b"}}`, usage{model: "a"}},
		{"empty model is skipped", `{"model":"","inner":{"model":"b"}}`, usage{model: "b"}},
		{"model must be a string", `{"model":{"name":"x"},"usage":{"output_tokens":4}}`, usage{output: 4}},
		{"whitespace", " {\n \"usage\" : {\n\t\"prompt_tokens\" : 8 , \"output_tokens\":9\n}\n}\n", usage{input: 8, output: 9}},
		{"garbage", `}}}{"usage":{"prompt_tokens":1}}`, usage{}},
		{"a long model is ignored", `{"model":"` + strings.Repeat("x", maxToken+1) + `"}`, usage{}},
		{"too deep", strings.Repeat(`{"a":`, maxScanDepth+1) + `{"usage":{"prompt_tokens":1}}`, usage{}},
	} {
		for _, n := range []int{0, 1, 3, 7} {
			if got := scanJSON(tc.doc, n); got != tc.want {
				t.Errorf("%s, chunks of %d: got %+v, want %+v", tc.name, n, got, tc.want)
			}
		}
	}
}

func TestLimitedInspector(t *testing.T) {
	doc := `{"model":"m","usage":{"prompt_tokens":3}}`
	var u usage
	feed(&limitedInspector{next: newJSONScanner(&u), left: int64(strings.Index(doc, "usage"))}, doc, 5)
	if u != (usage{model: "m"}) {
		t.Errorf("got %+v: read past the limit", u)
	}
}

func TestSSEScanner(t *testing.T) {
	for _, tc := range []struct {
		name, stream string
		limit        int64
		want         usage
	}{
		{"openai stream", "data: {\"id\":\"1\",\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n" +
			"data: {\"id\":\"1\",\"choices\":[{\"delta\":{\"content\":\"!\"}}]}\n\n" +
			"data: {\"id\":\"1\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":2}}\n\n" +
			"data: [DONE]\n\n", 1 << 20, usage{input: 11, output: 2, model: "gpt-4o"}},
		{"anthropic stream, later usage wins", "event: message_start\r\n" +
			"data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude\",\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\r\n\r\n" +
			": keep-alive comment\r\n\r\n" +
			"event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"usage\"}}\r\n\r\n" +
			"event: message_delta\r\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\r\n\r\n",
			1 << 20, usage{input: 30, output: 42, model: "claude"}},
		{"data split over lines", "data: {\"usage\":\ndata: {\"prompt_tokens\":\ndata: 4}}\n\n", 1 << 20, usage{input: 4}},
		{"no space after the colon, bare CR", "data:{\"usage\":{\"completion_tokens\":6}}\r\r", 1 << 20, usage{output: 6}},
		{"other fields are not data", "id: {\"usage\":{\"prompt_tokens\":1}}\ndatax: {\"usage\":{\"prompt_tokens\":2}}\n\n", 1 << 20, usage{}},
		{"a broken event does not spoil the next", "data: {\"a\":]]]\n\ndata: {\"usage\":{\"prompt_tokens\":5}}\n\n", 1 << 20, usage{input: 5}},
		{"the limit is per event", "data: {\"pad\":\"" + strings.Repeat("x", 100) + "\",\"usage\":{\"prompt_tokens\":1}}\n\n" +
			"data: {\"usage\":{\"completion_tokens\":2}}\n\n", 60, usage{output: 2}},
	} {
		for _, n := range []int{0, 1, 2, 5} {
			var u usage
			feed(newSSEScanner(&u, tc.limit), tc.stream, n)
			if u != tc.want {
				t.Errorf("%s, chunks of %d: got %+v, want %+v", tc.name, n, u, tc.want)
			}
		}
	}
}

// FuzzScanners feeds arbitrary bytes to both scanners: they never panic, and how the bytes are
// split into chunks changes nothing.
func FuzzScanners(f *testing.F) {
	f.Add(`{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}`, 3)
	f.Add("data: {\"usage\":{\"input_tokens\":7}}\r\n\r\ndata: [DONE]\n\n", 1)
	f.Add(`{"a":"\"usage\":{\"prompt_tokens\":1}","usage":{"output_tokens":9}}`, 2)
	f.Fuzz(func(t *testing.T, doc string, n int) {
		n = 1 + int(uint(n)%16)
		if whole, split := scanJSON(doc, 0), scanJSON(doc, n); whole != split {
			t.Errorf("json: whole %+v, in chunks of %d %+v", whole, n, split)
		}
		var whole, split usage
		feed(newSSEScanner(&whole, 64), doc, 0)
		feed(newSSEScanner(&split, 64), doc, n)
		if whole != split {
			t.Errorf("sse: whole %+v, in chunks of %d %+v", whole, n, split)
		}
	})
}
