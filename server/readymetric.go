package server

import "github.com/prometheus/client_golang/prometheus"

// registerReady exports ledger_ready on reg: 1 when the NATS connection is
// up, the projections are following the stream and are at most
// readyMaxLagEvents behind the last sequence the ledger knows the stream
// holds; 0 otherwise. It is /readyz without its stream round trips (and so
// without the time bound): the stream's last sequence is refreshed by the
// ledger's own appends and every stream info (the stream check, /readyz).
func (s *Server) registerReady(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ledger_ready",
		Help: "1 when the ledger is ready (NATS connected, projections following and caught up with the stream's last known sequence), else 0.",
	}, func() float64 {
		if s.isReady() {
			return 1
		}
		return 0
	}))
}

// isReady is registerReady's test.
func (s *Server) isReady() bool {
	select {
	case <-s.followDone:
		return false
	default:
	}
	if lost, _ := s.gate.state(); lost != "" {
		return false
	}
	return s.conn.NC != nil && s.conn.NC.IsConnected() && s.ledger.ProjectionLag() <= s.readyMaxLagEvents
}
