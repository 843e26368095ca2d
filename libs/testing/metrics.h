// Reading one Prometheus sample in tests: the value a metric has for exactly these labels,
// as a scrape would show it, without parsing the text format.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "prometheus/registry.h"

namespace parley::testing {

// The counter's or gauge's value, or the histogram's sample count, of the sample of `name`
// whose labels are exactly `labels`; nullopt when the registry has no such sample.
std::optional<double> MetricSample(prometheus::Registry& registry, const std::string& name,
                                   const std::map<std::string, std::string>& labels = {});

}  // namespace parley::testing
