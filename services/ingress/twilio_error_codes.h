// Twilio error codes and what they mean for a WhatsApp message, in one table for both places
// they arrive: the Messages API's answer to a send (provider_errors.cc) and the ErrorCode of a
// status callback (twilio_parser.cc).
//   63016 window closed; 21211, 63024 recipient unavailable; 20003 invalid credentials;
//   63007 permission denied; 63019, 63021 media rejected; 20001 and every other 21xxx invalid
//   request; anything else (0 included) a provider error.
// The codes Twilio asks to retry (20429, 63017, 63119) are the send classifier's to decide:
// a status callback reports a final outcome.
#pragma once

#include "parley/common/v1/common.pb.h"

namespace parley::ingress {

common::v1::DeliveryFailureReason TwilioFailureReason(int code);

}  // namespace parley::ingress
