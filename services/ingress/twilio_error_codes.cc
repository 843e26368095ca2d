#include "services/ingress/twilio_error_codes.h"

namespace parley::ingress {

namespace cv1 = common::v1;

cv1::DeliveryFailureReason TwilioFailureReason(int code) {
  switch (code) {
    case 63016:
      return cv1::DELIVERY_FAILURE_REASON_WINDOW_CLOSED;
    case 21211:
    case 63024:
      return cv1::DELIVERY_FAILURE_REASON_RECIPIENT_UNAVAILABLE;
    case 20003:
      return cv1::DELIVERY_FAILURE_REASON_INVALID_CREDENTIALS;
    case 63007:
      return cv1::DELIVERY_FAILURE_REASON_PERMISSION_DENIED;
    case 63019:
    case 63021:
      return cv1::DELIVERY_FAILURE_REASON_MEDIA_REJECTED;
    case 20001:
      return cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST;
    default:
      break;
  }
  if (code >= 21000 && code < 22000) return cv1::DELIVERY_FAILURE_REASON_INVALID_REQUEST;
  return cv1::DELIVERY_FAILURE_REASON_PROVIDER_ERROR;
}

}  // namespace parley::ingress
