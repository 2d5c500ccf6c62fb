package milter

import (
	"io"
	"log"
	"os"
	"testing"
)

// TestMain silences go-milter's standard-library logging (connections closed by the
// tests' shutdowns); postern serve routes it through logrus instead.
func TestMain(m *testing.M) {
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
