// The bench peer's only channel: Messenger on /webhooks/messenger, with the same App Secret as
// the Parley app of the run (bottender checks X-Hub-Signature, HMAC-SHA1 of the raw body, and
// answers 400 when it does not match). Sessions stay in bottender's default in-memory store.
module.exports = {
  channels: {
    messenger: {
      enabled: true,
      path: '/webhooks/messenger',
      pageId: process.env.MESSENGER_PAGE_ID,
      accessToken: process.env.MESSENGER_ACCESS_TOKEN,
      appId: process.env.MESSENGER_APP_ID,
      appSecret: process.env.MESSENGER_APP_SECRET,
      verifyToken: process.env.MESSENGER_VERIFY_TOKEN,
    },
  },
};
