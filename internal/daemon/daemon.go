// Package daemon owns what a dspyfleet daemon does besides its work: it tells systemd its state
// (READY, RELOADING, STOPPING and WATCHDOG pings, for Type=notify units) and reloads its settings
// on SIGHUP. Outside systemd (no NOTIFY_SOCKET) the notifications are skipped.
package daemon

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Run tells systemd the daemon is ready once ready is closed (at once when ready is nil), pings
// the watchdog every half of WATCHDOG_USEC when systemd set one, and calls reload on every SIGHUP
// between RELOADING=1 and READY=1 (before ready, without either). When ctx ends it sends STOPPING=1
// and returns nil. Call it once the daemon's listeners are bound. reload reports its own
// outcome; a failed reload keeps the running settings.
func Run(ctx context.Context, log *slog.Logger, ready <-chan struct{}, reload func()) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	isReady := ready == nil
	if isReady {
		notify(log, sd.SdNotifyReady)
	}
	var ping <-chan time.Time
	if every, err := sd.SdWatchdogEnabled(false); err != nil {
		log.Warn("systemd watchdog setting ignored", "err", err)
	} else if every > 0 {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		ping = t.C
		notify(log, sd.SdNotifyWatchdog)
	}
	for {
		select {
		case <-ctx.Done():
			notify(log, sd.SdNotifyStopping)
			return nil
		case <-ready:
			ready, isReady = nil, true
			notify(log, sd.SdNotifyReady)
		case <-ping:
			notify(log, sd.SdNotifyWatchdog)
		case <-hup:
			if !isReady {
				reload() // still starting: systemd hears READY=1 once, when ready closes
				continue
			}
			notify(log, sd.SdNotifyReloading+"\n"+sd.SdNotifyMonotonicUsec())
			reload()
			notify(log, sd.SdNotifyReady)
		}
	}
}

// notify sends one state to systemd; it does nothing outside systemd.
func notify(log *slog.Logger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.Warn("systemd notification failed", "state", state, "err", err)
	}
}
