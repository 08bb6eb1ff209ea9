package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the tests if goroutines, such as a watch or a client connection, outlive them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
