// Minimal cAdvisor: the cAdvisor library (v0.61.0, from the Go module proxy) embedded the way the kubelet
// embeds it, with the Docker provider and cAdvisor's own Prometheus collector. Upstream's cmd/ module is not
// published on the proxy, so this replaces only its glue. Every flag is one upstream's binary also has, with
// the same name and meaning, so a compose `command:` works unchanged with gcr.io/cadvisor/cadvisor.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	"github.com/google/cadvisor/lib/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	// Registers the "docker" provider and its flags (--docker, --docker-tls*, --docker_root, ...).
	_ "github.com/google/cadvisor/container/docker/install"
)

// Flags of upstream's cmd/cadvisor.go. The library packages register the rest themselves
// (--housekeeping_interval, --max_housekeeping_interval, --docker_only, --docker, ...).
var (
	argIP        = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	argPort      = flag.Int("port", 8080, "port to listen")
	promEndpoint = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")
	storeLabels  = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
	whiteLabels  = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")
	rawPrefixes  = flag.String("raw_cgroup_prefix_whitelist", "", "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")
	// This build carries only what cpu and memory need, so that is the default and the only choice
	// (upstream's default is "all but a few"; pass --enable_metrics=cpu,memory to get the same from both).
	supported     = container.MetricSet{container.CpuUsageMetrics: {}, container.MemoryUsageMetrics: {}}
	enableMetrics = container.MetricSet{}
)

func main() {
	flag.Var(&enableMetrics, "enable_metrics", "comma-separated list of `metrics` to be enabled. Options here are cpu,memory.")
	klog.InitFlags(nil)
	_ = flag.Set("v", "2") // upstream's default verbosity
	flag.Parse()
	defer klog.Flush()
	if len(enableMetrics) == 0 { // not set (or empty), as upstream: the default set
		enableMetrics = supported
	}
	if d := enableMetrics.Difference(supported); len(d) > 0 {
		klog.Exitf("--enable_metrics: this build supports only cpu,memory, not %s", d.String())
	}

	// Stats are kept 2 minutes in memory, upstream's --storage_duration default; /metrics reads the latest only.
	m, err := manager.New(memory.New(2*time.Minute, nil), sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags,
		enableMetrics, strings.Split(*rawPrefixes, ","), nil, "", 0)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %v", err)
	}

	labels := metrics.DefaultContainerLabels
	if !*storeLabels { // name, image and the whitelisted container labels only
		labels = metrics.BaseContainerLabels(strings.Split(strings.ReplaceAll(*whiteLabels, " ", ""), ","))
	}
	// Same collectors as upstream's /metrics: containers, machine, and cAdvisor's own Go runtime and process.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewPrometheusCollector(m, labels, enableMetrics, clock.RealClock{},
			info.RequestOptions{IdType: info.TypeName, Count: 1, Recursive: true}),
		metrics.NewPrometheusMachineCollector(m, enableMetrics),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle(*promEndpoint, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }) // as upstream

	if err := m.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	go func() { // stop housekeeping cleanly on docker stop
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		klog.Infof("Exiting given signal: %v", <-c)
		_ = m.Stop()
		os.Exit(0)
	}()
	addr := fmt.Sprintf("%s:%d", *argIP, *argPort)
	klog.Infof("Starting cAdvisor (library %s) on %s", version.Version, addr) // set by the Dockerfile from go.mod
	klog.Fatal(http.ListenAndServe(addr, mux))
}
