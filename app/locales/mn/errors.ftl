# Татгалзсан эсвэл амжилтгүй хүсэлтийн утга, алдааны кодоор (crate::session::error_text).
errors-invalid-field = “{ $field }” талбарын утгыг хүлээн авах боломжгүй.
errors-invalid = Хүсэлт буруу байна.
errors-unauthenticated = Нэвтэрнэ үү.
errors-bad-credentials = Нэвтрэх нэр эсвэл нууц үг буруу байна.
errors-forbidden-field = Та “{ $field }” талбарыг тохируулах эрхгүй.
errors-forbidden = Танд энэ үйлдлийг хийх эрх байхгүй.
errors-not-found = Олдсонгүй.
errors-method-not-allowed = Энэ хүсэлтийг дэмжихгүй.
errors-conflict = Энэ хооронд өөрчлөгдсөн байна; хуудсаа дахин ачаалаад оролдоно уу.
errors-payload-too-large = Өгөгдөл хэт том байна.
errors-rate-limited = Хэт олон оролдлого хийлээ; түр хүлээгээд дахин оролдоно уу.
errors-unavailable = Сервертэй холбогдож чадсангүй эсвэл завгүй байна; удалгүй дахин оролдоно уу.
errors-internal = Сервер дээр алдаа гарлаа.
