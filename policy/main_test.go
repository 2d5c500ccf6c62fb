package policy_test

import (
	"os"
	"testing"

	"github.com/postern/postern/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopSharedPostgres()
	os.Exit(code)
}
