// Waiting for the orchestrator's stop request. main blocks SIGTERM and SIGINT before it starts
// any thread (threads inherit the mask), then waits for one of them synchronously, so that the
// shutdown sequence runs as ordinary code rather than inside a signal handler.
#pragma once

namespace parley {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it creates afterwards.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace parley
