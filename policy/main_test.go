package policy_test

import (
	"testing"

	"github.com/postern/postern/internal/testutil"
)

func TestMain(m *testing.M) { testutil.MainWithPostgres(m) }
