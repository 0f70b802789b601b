//go:build !linux

package perf

import (
	"errors"
	"syscall"
	"time"
)

var errNoProc = errors.New("perf: the benchmark harness reads /proc and runs on Linux only")

func procCPU(int) (cpuTime, error)    { return cpuTime{}, errNoProc }
func treeCPU(int) (cpuTime, error)    { return cpuTime{}, errNoProc }
func procTree(pid int) []int          { return []int{pid} }
func procRSS(int) (int64, error)      { return 0, errNoProc }
func selfCPU() time.Duration          { return 0 }
func childAttr() *syscall.SysProcAttr { return nil }
func supported() error                { return errNoProc }
