// DAISEE meter: two ACS712 current sensors (A0: PV side, A1: load side) and a battery voltage
// divider (A2), printed once per second over USB serial for the oracle's acs712-serial driver.
//
// Frame, one per line (9600 baud):  $DAISEE,<millis>,<produced_w>,<consumed_w>,<battery_v>*<XX>\r\n
// XX = XOR of every byte between '$' and '*', two hex digits. Powers are 1 s means (W),
// computed as RMS current x the configured mains voltage; battery_v is empty without a divider.

const float MAINS_VOLTS = 230.0;        // AC line voltage (no voltage sensor on this board)
const float MV_PER_AMP = 100.0;         // ACS712-20A: 100 mV/A (5A: 185, 30A: 66)
const float DIVIDER_RATIO = 4.0;        // battery divider: Vbat = Vpin * ratio
const bool HAS_BATTERY = true;
const unsigned long PERIOD_MS = 1000;

float rmsAmps(int pin) {
  // Sample for 100 ms (5 mains cycles at 50 Hz) around the sensor's measured midpoint.
  long sum = 0, sumSq = 0;
  int n = 0;
  unsigned long start = millis();
  while (millis() - start < 100) {
    int v = analogRead(pin);
    sum += v;
    sumSq += (long)v * v;
    n++;
  }
  float mean = (float)sum / n;
  float variance = (float)sumSq / n - mean * mean;
  float rmsCounts = variance > 0 ? sqrt(variance) : 0;
  return rmsCounts * (5000.0 / 1023.0) / MV_PER_AMP;
}

byte checksum(const String &body) {
  byte x = 0;
  for (unsigned int i = 0; i < body.length(); i++) x ^= body[i];
  return x;
}

void setup() {
  Serial.begin(9600);
}

void loop() {
  unsigned long start = millis();
  float produced = 0, consumed = 0;
  int rounds = 0;
  while (millis() - start < PERIOD_MS - 150) {
    produced += rmsAmps(A0) * MAINS_VOLTS;
    consumed += rmsAmps(A1) * MAINS_VOLTS;
    rounds++;
  }
  String body = "DAISEE," + String(millis()) + "," + String(produced / rounds, 1) + "," + String(consumed / rounds, 1) + ",";
  if (HAS_BATTERY) body += String(analogRead(A2) * (5.0 / 1023.0) * DIVIDER_RATIO, 2);
  char cs[3];
  sprintf(cs, "%02X", checksum(body));
  Serial.print("$");
  Serial.print(body);
  Serial.print("*");
  Serial.print(cs);
  Serial.print("\r\n");
  while (millis() - start < PERIOD_MS) {}
}
