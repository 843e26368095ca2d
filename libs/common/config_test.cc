#include "libs/common/config.h"

#include <map>

#include "gtest/gtest.h"

namespace parley {
namespace {

std::vector<Setting> Declared() {
  return {{"grpc_address", "0.0.0.0:50053", "listen"},
          {"pool_size", "8", "pool"},
          {"grace", "10s", "grace"},
          {"migrate", "true", "migrate"},
          {"token", "default-secret", "a secret", Visibility::kSecret},
          {"pg_uri", "postgresql://u:pw@h:5432/db", "db", Visibility::kUriPassword}};
}

// Loads argv against a fake environment.
absl::Status Load(Config& config, std::vector<const char*> argv,
                  std::map<std::string, std::string> env = {}) {
  argv.insert(argv.begin(), "binary");
  return config.Load(static_cast<int>(argv.size()), argv.data(),
                     [&env](const char* name) -> const char* {
                       auto it = env.find(name);
                       return it == env.end() ? nullptr : it->second.c_str();
                     });
}

TEST(ConfigTest, DefaultsApplyWhenNothingIsGiven) {
  Config config(Declared());
  ASSERT_TRUE(Load(config, {}).ok());
  EXPECT_EQ(config.Get("grpc_address"), "0.0.0.0:50053");
  EXPECT_EQ(*config.GetInt("pool_size"), 8);
  EXPECT_EQ(*config.GetDuration("grace"), absl::Seconds(10));
  EXPECT_TRUE(*config.GetBool("migrate"));
}

TEST(ConfigTest, FlagBeatsEnvironmentWhichBeatsDefault) {
  Config config(Declared());
  ASSERT_TRUE(
      Load(config, {"--pool_size=3"}, {{"PARLEY_POOL_SIZE", "5"}, {"PARLEY_GRACE", "250ms"}}).ok());
  EXPECT_EQ(*config.GetInt("pool_size"), 3);
  EXPECT_EQ(*config.GetDuration("grace"), absl::Milliseconds(250));
}

TEST(ConfigTest, FlagValueMayBeTheNextWordAndPositionalsAreKept) {
  Config config(Declared());
  ASSERT_TRUE(Load(config, {"migrate", "--grpc_address", "127.0.0.1:1"}).ok());
  EXPECT_EQ(config.Get("grpc_address"), "127.0.0.1:1");
  EXPECT_EQ(config.positional(), std::vector<std::string>{"migrate"});
}

TEST(ConfigTest, UnknownFlagIsAnErrorNamingIt) {
  Config config(Declared());
  absl::Status status = Load(config, {"--grcp_address=x"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "unknown flag --grcp_address (--help lists the settings)");
}

TEST(ConfigTest, FlagWithoutValueIsAnError) {
  Config config(Declared());
  absl::Status status = Load(config, {"--pool_size"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "flag --pool_size needs a value");
}

TEST(ConfigTest, WrongTypesNameTheSettingAndTheValue) {
  Config config(Declared());
  ASSERT_TRUE(Load(config, {"--pool_size=many", "--grace=soon", "--migrate=perhaps"}).ok());
  EXPECT_EQ(config.GetInt("pool_size").status().message(),
            "setting pool_size: 'many' is not an integer");
  EXPECT_EQ(config.GetDuration("grace").status().message(),
            "setting grace: 'soon' is not a duration such as 500ms or 10s");
  EXPECT_EQ(config.GetBool("migrate").status().message(),
            "setting migrate: 'perhaps' is not true or false");
}

TEST(ConfigTest, SecretsAreMaskedInHelpAndEffectiveConfiguration) {
  Config config(Declared());
  ASSERT_TRUE(Load(config, {"--token=hunter2"}).ok());
  EXPECT_EQ(config.Get("token"), "hunter2");
  const std::string help = config.Help();
  EXPECT_EQ(help.find("default-secret"), std::string::npos);
  EXPECT_EQ(help.find(":pw@"), std::string::npos);
  for (const auto& [name, value] : config.Effective()) {
    EXPECT_EQ(value.find("hunter2"), std::string::npos) << name;
    EXPECT_EQ(value.find(":pw@"), std::string::npos) << name;
  }
  EXPECT_NE(help.find("PARLEY_GRPC_ADDRESS"), std::string::npos);
}

TEST(RedactTest, MasksOnlyThePasswordOfAUri) {
  EXPECT_EQ(Redact("postgresql://user:secret@db:5432/parley", Visibility::kUriPassword),
            "postgresql://user:***@db:5432/parley");
  EXPECT_EQ(Redact("postgresql://user@db/parley", Visibility::kUriPassword),
            "postgresql://user@db/parley");
  EXPECT_EQ(Redact("host=db password=x", Visibility::kSecret), "***");
  EXPECT_EQ(Redact("plain", Visibility::kPlain), "plain");
}

TEST(EnvNameTest, UpperCasesWithPrefix) { EXPECT_EQ(EnvName("grpc_port"), "PARLEY_GRPC_PORT"); }

}  // namespace
}  // namespace parley
