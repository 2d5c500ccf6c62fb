package testutil

import (
	"slices"
	"testing"
)

// FreePort never hands out a port twice, even when the kernel offers one again
// (TestPostfixEndToEnd once got the milter's port again for the metrics endpoint).
func TestFreePortDistinct(t *testing.T) {
	offered := []int{5000, 5000, 5001, 5000, 5002} // the kernel's answers, repeats included
	next := func() (int, error) {
		p := offered[0]
		offered = offered[1:]
		return p, nil
	}
	b := &portBook{given: map[int]bool{}}
	var got []int
	for range 3 {
		p, err := b.take(next)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if want := []int{5000, 5001, 5002}; !slices.Equal(got, want) {
		t.Errorf("handed out %v, want %v", got, want)
	}
	// And the real thing, many times over.
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}
