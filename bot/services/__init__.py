"""Use cases. Each public function owns one transaction and writes its audit rows inside it."""
