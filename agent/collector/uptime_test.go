package collector

import (
	"math"
	"testing"
	"time"
)

func TestUptimeDuration(t *testing.T) {
	for _, tc := range []struct {
		secs    uint64
		want    time.Duration
		wantErr bool
	}{
		{0, 0, false},
		{4106, 4106 * time.Second, false},
		{math.MaxInt64 / uint64(time.Second), time.Duration(math.MaxInt64/int64(time.Second)) * time.Second, false},
		{math.MaxInt64/uint64(time.Second) + 1, 0, true},
		{math.MaxUint64, 0, true},
	} {
		got, err := uptimeDuration(tc.secs)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("uptimeDuration(%d) = %v, %v; want %v, error %v", tc.secs, got, err, tc.want, tc.wantErr)
		}
	}
}
