package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dspyfleet/dspyfleet/pkg/rules"
)

// TestREADMEShowsTheDevLines: the lines README.md gives as what --dev prints to try next are
// what it prints, rendered with the default addresses.
func TestREADMEShowsTheDevLines(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const intro = "`--dev` also prints the lines to try next; with\nthe defaults they are:\n\n```sh\n"
	_, rest, ok := strings.Cut(string(raw), intro)
	if !ok {
		t.Fatalf("README.md has no block after %q", intro)
	}
	block, _, ok := strings.Cut(rest, "```\n")
	if !ok {
		t.Fatal("the README's block of lines to try next does not end")
	}
	want := renderTryNext("127.0.0.1:7070", "http://127.0.0.1:7071", "http://127.0.0.1:7072")
	if strings.TrimSpace(block) != strings.TrimSpace(want) {
		t.Fatalf("README.md's lines to try next differ from what --dev prints; put these in README.md:\n%s", want)
	}
}

// TestREADMENamesEveryShippedRule: the README's list of shipped rules names each of them, and
// counts them right.
func TestREADMENamesEveryShippedRule(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(raw), "Shipped (and editable) rules:")
	if !ok {
		t.Fatal("README.md has no list of shipped rules")
	}
	list, _, _ = strings.Cut(list, "\n\n")
	defaults := rules.Defaults()
	for _, r := range defaults {
		if !strings.Contains(list, "`"+r.Name+"`") {
			t.Errorf("README.md's shipped rules do not name %s", r.Name)
		}
	}
	words := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"}
	if n := len(defaults); n >= len(words) || !strings.Contains(list, words[n]+",") {
		t.Errorf("README.md's shipped rules do not say there are %d: %s", n, fmt.Sprint(list))
	}
}
