// Receives every Messenger event and does nothing with it: bottender stores nothing, so the
// bench compares Parley's durable acknowledgement with bottender's parse-and-answer.
module.exports = async function App() {};
